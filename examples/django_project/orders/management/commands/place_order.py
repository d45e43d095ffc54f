"""``manage.py place_order N [--rollback] [--outside]``: store an order and trigger its
receipt job in one transaction (``--rollback`` rolls both back; ``--outside`` triggers
after the transaction)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from orders.jobs import send_receipt
from orders.models import Order


class Rollback(Exception):
    pass


class Command(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("number", type=int)
        parser.add_argument("--rollback", action="store_true")
        parser.add_argument("--outside", action="store_true")

    def handle(self, number, rollback, outside, **options):
        handle = None
        try:
            with transaction.atomic():
                Order.objects.create(number=number)
                if not outside:
                    handle = send_receipt(number).run_now()
                if rollback:
                    raise Rollback
        except Rollback:
            pass
        if outside:
            handle = send_receipt(number).run_now()
        self.stdout.write(str(handle.id))
