"""A Flask app that triggers conveyor jobs; ``flask conveyor <verb>`` manages them.

    export CONVEYOR_URL=sqlite:///shop.db
    flask --app examples.flask_app.app run            # POST /orders/7 triggers a job
    flask --app examples.flask_app.app conveyor worker
    flask --app examples.flask_app.app conveyor runs
"""

from __future__ import annotations

import os

from flask import Flask, jsonify

from conveyor import Conveyor
from conveyor.contrib.flask import init_app

jobs = Conveyor(os.environ.get("CONVEYOR_URL", "sqlite:///shop.db"))


@jobs.job
def send_receipt(order_id: int) -> str:
    return f"receipt for order {order_id} sent"


app = Flask(__name__)
init_app(app, jobs)


@app.post("/orders/<int:order_id>")
def place_order(order_id: int):  # type: ignore[no-untyped-def]
    handle = send_receipt(order_id).run_now()
    return jsonify(job=handle.id), 202
