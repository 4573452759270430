"""The WSGI application gunicorn serves (start.sh), as Django's startproject writes it."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tokencert_site.settings")
application = get_wsgi_application()
