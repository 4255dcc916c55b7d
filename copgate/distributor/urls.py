"""The service's URLs: the curation pages, sign-in, language switching, the admin site.

Static files (the admin site's CSS) are served by the service itself from
the installed package: a few dozen small files that a reverse proxy or CDN
caches; no ``collectstatic`` step is needed for a deployment.
"""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.staticfiles import views as static_views
from django.urls import include, path

from copgate.distributor.curation import admin as curation_admin

urlpatterns = [
    path("", include("copgate.distributor.curation.urls")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", curation_admin.site.urls),
    path("static/<path:path>", static_views.serve, {"insecure": True}),
    path("api/", include("copgate.distributor.api.urls")),
]
