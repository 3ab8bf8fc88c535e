from django.urls import path

from monitoring import views

urlpatterns = [
    path("calls/", views.call_list, name="calls"),
]
