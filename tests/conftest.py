pytest_plugins = ["testsupport.plugin", "pytester"]
