"""Who a user is to the apps: users, their groups and profile, the emergency authentication
service and its second factor, and what the gateway vouches with (its signing keys, the signed
identity assertion). Uses core/ rules, the store and the directory."""
