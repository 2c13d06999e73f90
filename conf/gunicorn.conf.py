"""gunicorn settings for people who run gunicorn themselves:

    SSOMW_CONFIG=/etc/ssomw/ssomw.yaml gunicorn -c conf/gunicorn.conf.py 'ssomw.wsgi:create_app()'

The same settings `ssomw serve` uses (see ssomw/cli/serve.py for why); override any below.
"""

import os

from ssomw.cli.serve import default_options, prepare_metrics_dir

prepare_metrics_dir()  # before gunicorn loads the app: see ssomw/cli/serve.py
globals().update(default_options(
    bind=os.environ.get("SSOMW_BIND", "127.0.0.1:4180"),
    workers=int(os.environ["SSOMW_WORKERS"]) if os.environ.get("SSOMW_WORKERS") else None,
))
