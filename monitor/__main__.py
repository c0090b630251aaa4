import gc

# Start-up allocates a great many objects that live as long as the process (modules,
# the config, compiled rules) and frees few: the collector's passes over them are
# wasted, about a quarter of the start-up time. It is off while the CLI loads, and
# what is loaded by then is moved out of its reach for good (gc.freeze).
gc.disable()

from monitor.cli.app import main  # noqa: E402

gc.freeze()
gc.enable()
main()
