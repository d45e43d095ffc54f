"""Jobs of the orders app: conveyor imports every installed app's ``jobs`` module."""

from conveyor.contrib.django import app
from orders.models import Order


@app.job(retry=3)
def send_receipt(number: int) -> str:
    order = Order.objects.get(number=number)
    order.receipt_sent = True
    order.save(update_fields=["receipt_sent"])
    return f"receipt for order {number} sent"
