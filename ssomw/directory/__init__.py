"""The user directory (LDAP): lookups for sign-in and a sync of users' groups.

See README.md in this folder for the configuration, the two group models and measured numbers.
"""

from ssomw.directory.ldap import Directory, DirectoryUnavailable, DirectoryUser

__all__ = ["Directory", "DirectoryUnavailable", "DirectoryUser"]
