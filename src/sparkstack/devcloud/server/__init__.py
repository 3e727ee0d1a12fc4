"""Code that runs inside the devcloud's own server venv (imported there as ``ssdc``)."""
