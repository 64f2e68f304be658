"""Capabilities that ship with the core. They load like any plugin: through their entry
point, and only when the app's config declares them."""
