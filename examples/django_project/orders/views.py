from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from orders.jobs import send_receipt
from orders.models import Order


@csrf_exempt
@require_POST
def place_order(request, number):
    with transaction.atomic():
        Order.objects.create(number=number)
        handle = send_receipt(number).run_now()  # stored only if the order is
    return JsonResponse({"job": handle.id}, status=201)
