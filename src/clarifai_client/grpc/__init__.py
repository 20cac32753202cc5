"""Generated from proto/ by scripts/gen_protos.py. Do not edit: regenerate instead.

Generator: grpcio-tools 1.72.1, mypy-protobuf 5.1.0.
"""
