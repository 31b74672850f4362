"""wfnb as a Jupyter Server extension: the REST API and WebSockets under ``<base_url>/wfnb/api/``
that the JupyterLab extension (and anything else) calls. The user is Jupyter's authenticated
user; the server checks every capability before the engine acts."""
