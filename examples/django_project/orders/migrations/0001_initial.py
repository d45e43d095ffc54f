# ruff: noqa: RUF012  (Django's migration style)
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Order",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                           serialize=False, verbose_name="ID")),
                ("number", models.IntegerField(unique=True)),
                ("receipt_sent", models.BooleanField(default=False)),
            ],
        ),
    ]
