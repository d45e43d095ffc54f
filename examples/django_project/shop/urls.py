from django.contrib import admin
from django.urls import include, path
from orders import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("jobs/", include("conveyor.contrib.django.urls")),  # the dashboard, staff only
    path("orders/<int:number>", views.place_order),
]
