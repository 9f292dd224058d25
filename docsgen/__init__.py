"""The documentation's generated pages: each rendered from the code's own declaration, at build time."""
