"""Stage `import`: a user's CRM and marketing export mapped onto the raw tables."""
