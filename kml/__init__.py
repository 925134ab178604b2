"""KooKoo XML and KML apps parsed into one typed instruction model."""
