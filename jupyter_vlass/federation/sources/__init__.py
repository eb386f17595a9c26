"""Built-in sources; registered through the ``jupyter_vlass.sources`` entry-point group."""
