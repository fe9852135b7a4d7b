"""Tests of the real test fleet (patchorch.testing.fleet), most of them on running podman hosts."""
