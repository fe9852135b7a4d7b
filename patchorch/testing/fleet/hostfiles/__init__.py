"""Files baked into the fleet's host image: init, reboot, fault and service-control scripts.

They are data, not Python: `patchorch.testing.fleet._image` copies them into the image under /usr/local/sbin.
"""
