"""The web console and REST API (J1, J2): ``shaobing serve``."""
