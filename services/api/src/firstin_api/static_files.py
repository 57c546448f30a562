from importlib.resources import files

STATIC_DIR = files("firstin_api").joinpath("static")
