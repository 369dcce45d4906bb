"""Users, API tokens and the API's permission rules."""
