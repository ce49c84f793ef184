"""One builder per report type; each turns the stable data of a feature into template input."""
