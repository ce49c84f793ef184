"""Reports and deliverables (I1, I2): builders over the stable data, templates, renderers."""
