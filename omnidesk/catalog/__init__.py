"""Product catalog and services: products, clones, eligibility, and the customer's service instances."""
