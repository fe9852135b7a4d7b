"""Root test configuration: the real test fleet fixture (`test_fleet`) is available to every test package."""

pytest_plugins = ["tests.fleet_fixture"]
