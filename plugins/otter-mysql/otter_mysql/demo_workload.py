"""The demo's schema and its mixed insert/update/delete workload (used by ``otter_mysql.demo``)."""

from __future__ import annotations

import random
import threading
import time
from datetime import date, datetime, timedelta
from decimal import Decimal

from otter_core.testing.mariadb import MariaDBServer

SCHEMA = "shop"

DDL = [
    f"CREATE DATABASE {SCHEMA} CHARACTER SET utf8mb4",
    f"""CREATE TABLE {SCHEMA}.customers (
  id INT UNSIGNED NOT NULL PRIMARY KEY,
  name VARCHAR(80) NOT NULL,
  email VARCHAR(120) NULL,
  country CHAR(2) NOT NULL,
  vip TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL
) ENGINE=InnoDB""",
    f"""CREATE TABLE {SCHEMA}.orders (
  id BIGINT NOT NULL PRIMARY KEY,
  customer_id INT UNSIGNED NOT NULL,
  status ENUM('new','paid','shipped','cancelled') NOT NULL,
  amount DECIMAL(12,2) NOT NULL,
  weight_kg DOUBLE NULL,
  note TEXT NULL,
  delivery_date DATE NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at TIMESTAMP(3) NULL DEFAULT NULL,
  KEY by_customer (customer_id)
) ENGINE=InnoDB""",
    f"""CREATE TABLE {SCHEMA}.order_items (
  order_id BIGINT NOT NULL,
  line SMALLINT UNSIGNED NOT NULL,
  sku VARCHAR(32) NOT NULL,
  qty INT NOT NULL,
  price DECIMAL(10,2) NOT NULL,
  PRIMARY KEY (order_id, line)
) ENGINE=InnoDB""",
]

NAMES = ["Ada", "Zoë", "José", "Björn", "Mei", "Ngozi", "Łukasz", "Ana", "Søren", "Priya", "Kenji", "Olu"]
COUNTRIES = ["DE", "FR", "CN", "BR", "NG", "IN", "JP", "PL", "DK", "US"]
NOTES = [None, "", "leave at the door", "gift 🎁 wrap", "fragile", "call first: +49 30 1234", "ça va"]


class Workload(threading.Thread):
    """Writes about ``rows`` row changes over ``seconds`` on the source, in small mixed transactions."""

    def __init__(self, server: MariaDBServer, rows: int, seconds: float, seed: int = 2024) -> None:
        super().__init__(name="demo-workload", daemon=True)
        self.server = server
        self.rows = max(0, rows)
        self.seconds = max(0.1, seconds)
        self.rng = random.Random(seed)
        self.stop_event = threading.Event()
        self.counts = {"insert": 0, "update": 0, "delete": 0}
        self.transactions = 0
        self.error: BaseException | None = None
        self.started = 0.0
        self.ended = 0.0
        self._customers: list[int] = []
        self._orders: dict[int, int] = {}  # order id -> its number of lines
        self._next_order = 1
        self._clock = datetime(2024, 1, 1, 8, 0, 0)

    @property
    def written(self) -> int:
        return sum(self.counts.values())

    def status_line(self) -> str:
        elapsed = (self.ended or time.monotonic()) - self.started if self.started else 0.0
        rate = self.written / elapsed if elapsed > 0 else 0.0
        state = "done" if self.ended else "writing"
        return (
            f"workload {state:<8} rows={self.written:<9} {rate:>9.0f} rows/s  "
            f"(insert {self.counts['insert']}, update {self.counts['update']}, delete {self.counts['delete']}; "
            f"{self.transactions} transactions)"
        )

    def run(self) -> None:
        self.started = time.monotonic()
        rate = self.rows / self.seconds
        try:
            conn = self.server.connect(autocommit=False)
            try:
                with conn.cursor() as cur:
                    while self.written < self.rows and not self.stop_event.is_set():
                        elapsed = time.monotonic() - self.started
                        if elapsed >= self.seconds:
                            break
                        ahead = self.written / rate - elapsed
                        if ahead > 0 and self.stop_event.wait(min(ahead, 0.5)):
                            break
                        self._transaction(cur)
                        conn.commit()
                        self.transactions += 1
            finally:
                conn.close()
        except BaseException as exc:  # reported by run_demo
            self.error = exc
        finally:
            self.ended = time.monotonic()

    def _now(self) -> datetime:
        self._clock += timedelta(milliseconds=self.rng.randint(1, 900), microseconds=self.rng.randint(0, 999))
        return self._clock

    def _transaction(self, cur) -> None:
        rng = self.rng
        for _ in range(rng.randint(1, 4)):
            action = rng.random()
            if action < 0.5 or len(self._orders) < 20:
                self._new_order(cur)
            elif action < 0.8:
                self._update_order(cur)
            elif action < 0.95:
                self._delete_order(cur)
            else:
                self._update_customer(cur)

    def _new_customer(self, cur) -> int:
        rng = self.rng
        cid = len(self._customers) + 1
        name = f"{rng.choice(NAMES)} {rng.choice(NAMES)}sen"
        email = None if rng.random() < 0.2 else f"c{cid}@example.org"
        cur.execute(
            "INSERT INTO shop.customers (id, name, email, country, vip, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (cid, name, email, rng.choice(COUNTRIES), int(rng.random() < 0.1), self._now()),
        )
        self.counts["insert"] += 1
        self._customers.append(cid)
        return cid

    def _new_order(self, cur) -> None:
        rng = self.rng
        customer = (
            self._new_customer(cur)
            if not self._customers or rng.random() < 0.3
            else rng.choice(self._customers)
        )
        oid = self._next_order
        self._next_order += 1
        lines = rng.randint(1, 4)
        items = [
            (
                oid,
                line,
                f"SKU-{rng.randint(1, 500):04d}",
                rng.randint(1, 5),
                Decimal(rng.randint(99, 99999)) / 100,
            )
            for line in range(1, lines + 1)
        ]
        amount = sum(qty * price for _, _, _, qty, price in items)
        weight = None if rng.random() < 0.1 else round(rng.uniform(0.1, 30.0), 3)
        delivery = None if rng.random() < 0.3 else date(2024, 1, 1) + timedelta(days=rng.randint(0, 365))
        cur.execute(
            "INSERT INTO shop.orders (id, customer_id, status, amount, weight_kg, note, delivery_date, "
            "created_at, updated_at) VALUES (%s, %s, 'new', %s, %s, %s, %s, %s, NULL)",
            (oid, customer, amount, weight, rng.choice(NOTES), delivery, self._now()),
        )
        cur.executemany(
            "INSERT INTO shop.order_items (order_id, line, sku, qty, price) VALUES (%s, %s, %s, %s, %s)",
            items,
        )
        self.counts["insert"] += 1 + lines
        self._orders[oid] = lines

    def _update_order(self, cur) -> None:
        rng = self.rng
        oid = rng.choice(list(self._orders))
        status = rng.choice(["paid", "shipped", "cancelled"])
        cur.execute(
            "UPDATE shop.orders SET status = %s, updated_at = %s, amount = amount + %s WHERE id = %s",
            (status, self._now(), Decimal(rng.randint(0, 500)) / 100, oid),
        )
        self.counts["update"] += cur.rowcount
        if rng.random() < 0.5:
            cur.execute(
                "UPDATE shop.order_items SET qty = qty + 1 WHERE order_id = %s AND line = %s",
                (oid, rng.randint(1, self._orders[oid])),
            )
            self.counts["update"] += cur.rowcount

    def _delete_order(self, cur) -> None:
        oid = self.rng.choice(list(self._orders))
        cur.execute("DELETE FROM shop.order_items WHERE order_id = %s", (oid,))
        self.counts["delete"] += cur.rowcount
        cur.execute("DELETE FROM shop.orders WHERE id = %s", (oid,))
        self.counts["delete"] += cur.rowcount
        del self._orders[oid]

    def _update_customer(self, cur) -> None:
        cid = self.rng.choice(self._customers)
        cur.execute(
            "UPDATE shop.customers SET email = %s, vip = 1 - vip WHERE id = %s",
            (f"new{cid}.{self.rng.randint(1, 99)}@example.org", cid),
        )
        self.counts["update"] += cur.rowcount
