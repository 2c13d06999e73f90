"""Who a user is to the apps: users, their groups and profile, and the emergency
authentication service. Uses core/ rules, the store and the directory."""
