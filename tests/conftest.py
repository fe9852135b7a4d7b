"""Root test configuration: the real test fleet (`test_fleet`) and the store URLs (`store_url`: SQLite and a private
PostgreSQL server) are available to every test package."""

pytest_plugins = ["tests.fleet_fixture", "tests.postgres"]
