"""Python-backend model implementations; each ``model_repository/*/1/model.py`` imports one.

These modules import ``triton_python_backend_utils``, which exists only inside Triton's
python-backend stub process, so they are exercised through a real tritonserver.
"""
