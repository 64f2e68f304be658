"""{{ cookiecutter.app_name }}."""
