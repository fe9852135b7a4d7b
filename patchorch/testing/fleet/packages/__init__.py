"""The recipe of the acme test packages every fleet host installs from its local apt repository.

`recipe.json` lists each package version, its payload and its maintainer scripts (the `*.sh` files beside it);
`patchorch.testing.fleet._repo` builds them with `dpkg-deb` into a flat repository indexed by `dpkg-scanpackages`.
"""
