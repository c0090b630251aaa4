"""The `monitor` command line: thin commands over the library."""
