"""Sessions: the SSO session (a store record behind a signed cookie, ``manager.py``,
``cookies.py``) and the short browser flow session used while signing in
(``flask_store.py``: Flask-Session over the same store). No HTTP decisions here."""
