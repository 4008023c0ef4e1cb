from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from emailconfig.models import Stage


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "emailconfig/home.html", {"stages": Stage.objects.all()})
