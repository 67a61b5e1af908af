HELP = DESCRIPTION = "mean brightness of generated images"
EPILOG = "example:\n  p2p-eval brightness runs/ --with-real"
WITH_REAL = "add the real photos' brightness"
DEFAULT_WORKERS = 1


def add_arguments(parser):
    pass


def settings(args):
    from brightness.measure import BrightnessSettings

    return BrightnessSettings()
