"""Generated from proto/ by scripts/gen_protos.py. Do not edit: regenerate instead.

Generator: grpcio-tools 1.72.0, mypy-protobuf 5.1.0.
"""
