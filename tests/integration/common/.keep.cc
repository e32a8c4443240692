// Keeps the integration helper library non-empty.
