"""Parsing JavaScript, TypeScript/TSX, Java, Go and Rust through their query files.

Each language gets a small real-looking file and the exact symbols
(kind, qualname, start_line, end_line), references (source qualname, kind, target, line;
sorted, since their order is tree-sitter's match order) and doc comments it must yield.
"""
from __future__ import annotations

import pytest

from graphmer.index import languages
from graphmer.index.parse import parse_source
from graphmer.index.records import ParsedFile


def _parse(src: bytes, path: str, language: str, module: str) -> ParsedFile:
    pf = parse_source(src, path, language, module)
    assert pf.syntax_errors == 0
    return pf


def _symbols(pf: ParsedFile) -> list[tuple[str, str, int, int]]:
    return [(s.kind, s.qualname, s.start_line, s.end_line) for s in pf.symbols]


def _refs(pf: ParsedFile) -> list[tuple[str, str, str, int]]:
    got = [(pf.symbols[r.source].qualname, r.kind, r.target, r.line) for r in pf.refs]
    return sorted(got, key=lambda t: (t[3], t[0], t[1], t[2]))


def _docs(pf: ParsedFile) -> dict[str, str]:
    return {s.qualname: s.doc for s in pf.symbols if s.doc}


@pytest.mark.parametrize("language", languages.LANGUAGES)
def test_query_compiles(language):
    """Every language's query compiles against its grammar (tsx reuses typescript's file)."""
    assert languages.query(language).pattern_count > 0


# ---------------------------------------------------------------- javascript

JS = b'''\
/**
 * Shape helpers.
 */
import { EventEmitter } from "events";
import * as path from "node:path";
const lodash = require("lodash");

/** Base of every drawable thing. */
@sealed
export class Circle extends Shape {
  constructor(radius) {
    super();
    this.radius = radius;
  }

  // Area of the circle.
  area() {
    return Math.PI * this.square(this.radius);
  }

  static parse(text) {
    if (!text) throw new TypeError("empty");
    return new Circle(parseFloat(text));
  }

  onResize = (event) => this.emit("resize", event);
}

export function render(shapes) {
  shapes.forEach((s) => draw(s.area()));
}

const scale = function (shape, factor) {
  return lodash.clone(shape);
};
'''


def test_javascript_symbols():
    pf = _parse(JS, "web/shapes.js", "javascript", "web.shapes")
    assert _symbols(pf) == [
        ("module", "web.shapes", 1, 35),
        ("class", "web.shapes.Circle", 10, 27),
        ("method", "web.shapes.Circle.constructor", 11, 14),
        ("method", "web.shapes.Circle.area", 17, 19),
        ("method", "web.shapes.Circle.parse", 21, 24),
        ("method", "web.shapes.Circle.onResize", 26, 26),
        ("function", "web.shapes.render", 29, 31),
        ("function", "web.shapes.scale", 33, 35),
    ]


def test_javascript_refs():
    pf = _parse(JS, "web/shapes.js", "javascript", "web.shapes")
    assert _refs(pf) == [
        ("web.shapes", "import", "events", 4),
        ("web.shapes", "import", "node:path", 5),
        ("web.shapes", "import", "lodash", 6),
        ("web.shapes.Circle", "decorator", "sealed", 9),
        ("web.shapes.Circle", "base", "Shape", 10),
        ("web.shapes.Circle.area", "call", "this.square", 18),
        ("web.shapes.Circle.parse", "instantiate", "TypeError", 22),
        ("web.shapes.Circle.parse", "raise", "TypeError", 22),
        ("web.shapes.Circle.parse", "call", "parseFloat", 23),
        ("web.shapes.Circle.parse", "instantiate", "Circle", 23),
        ("web.shapes.Circle.onResize", "call", "this.emit", 26),
        ("web.shapes.render", "call", "draw", 30),
        ("web.shapes.render", "call", "s.area", 30),
        ("web.shapes.render", "call", "shapes.forEach", 30),
        ("web.shapes.scale", "call", "lodash.clone", 34),
    ]


def test_javascript_docs():
    pf = _parse(JS, "web/shapes.js", "javascript", "web.shapes")
    assert _docs(pf) == {
        "web.shapes": "Shape helpers.",
        "web.shapes.Circle": "Base of every drawable thing.",
        "web.shapes.Circle.area": "Area of the circle.",
    }


# ---------------------------------------------------------------- typescript

TS = b'''\
import { Injectable } from "@angular/core";
import type { Request } from "./http";
export * from "./models";

/** Something persisted. */
export interface Entity extends Identified<string> {
  id: string;
  save(force: boolean): Promise<Entity>;
}

export enum Status {
  Active,
  Closed,
}

@Injectable({ providedIn: "root" })
export class UserService extends BaseService<User> implements Entity, Auditable {
  constructor(private readonly repo: UserRepo) {
    super();
  }

  /** Loads one user. */
  @Cached()
  async find(id: string, req?: Request): Promise<User> {
    const user = await this.repo.get(id);
    if (!user) {
      throw new NotFoundError(id);
    }
    return user;
  }
}

export abstract class Shape {
  abstract area(): number;
}

export const toDto = (user: User): UserDto => new UserDto(user);
'''


def test_typescript_symbols():
    pf = _parse(TS, "app/service.ts", "typescript", "app.service")
    assert _symbols(pf) == [
        ("module", "app.service", 1, 37),
        ("interface", "app.service.Entity", 6, 9),
        ("method", "app.service.Entity.save", 8, 8),
        ("enum", "app.service.Status", 11, 14),
        ("class", "app.service.UserService", 17, 31),
        ("method", "app.service.UserService.constructor", 18, 20),
        ("method", "app.service.UserService.find", 24, 30),
        ("class", "app.service.Shape", 33, 35),
        ("method", "app.service.Shape.area", 34, 34),
        ("function", "app.service.toDto", 37, 37),
    ]


def test_typescript_refs():
    pf = _parse(TS, "app/service.ts", "typescript", "app.service")
    assert _refs(pf) == [
        ("app.service", "import", "@angular/core", 1),
        ("app.service", "import", "./http", 2),
        ("app.service", "import", "./models", 3),
        ("app.service.Entity", "base", "Identified", 6),
        ("app.service.Entity.save", "returns", "Promise", 8),
        ("app.service.UserService", "decorator", "Injectable", 16),
        ("app.service.UserService", "base", "BaseService", 17),
        ("app.service.UserService", "implements", "Auditable", 17),
        ("app.service.UserService", "implements", "Entity", 17),
        ("app.service.UserService.constructor", "param_type", "UserRepo", 18),
        ("app.service.UserService.find", "decorator", "Cached", 23),
        ("app.service.UserService.find", "param_type", "Request", 24),
        ("app.service.UserService.find", "returns", "Promise", 24),
        ("app.service.UserService.find", "call", "this.repo.get", 25),
        ("app.service.UserService.find", "instantiate", "NotFoundError", 27),
        ("app.service.UserService.find", "raise", "NotFoundError", 27),
        ("app.service.toDto", "instantiate", "UserDto", 37),
        ("app.service.toDto", "param_type", "User", 37),
        ("app.service.toDto", "returns", "UserDto", 37),
    ]


def test_typescript_docs():
    pf = _parse(TS, "app/service.ts", "typescript", "app.service")
    assert _docs(pf) == {
        "app.service.Entity": "Something persisted.",
        "app.service.UserService.find": "Loads one user.",
    }


# ---------------------------------------------------------------- tsx

TSX = b'''\
import React from "react";

interface Props {
  title: string;
}

export function App(props: Props): JSX.Element {
  const items = useItems();
  return <List title={props.title} items={items} />;
}

class Panel extends React.Component<Props> {
  render() {
    return <div>{format(this.props.title)}</div>;
  }
}
'''


def test_tsx_symbols():
    pf = _parse(TSX, "ui/App.tsx", "tsx", "ui.App")
    assert _symbols(pf) == [
        ("module", "ui.App", 1, 16),
        ("interface", "ui.App.Props", 3, 5),
        ("function", "ui.App.App", 7, 10),
        ("class", "ui.App.Panel", 12, 16),
        ("method", "ui.App.Panel.render", 13, 15),
    ]


def test_tsx_refs():
    pf = _parse(TSX, "ui/App.tsx", "tsx", "ui.App")
    assert _refs(pf) == [
        ("ui.App", "import", "react", 1),
        ("ui.App.App", "param_type", "Props", 7),
        ("ui.App.App", "returns", "JSX.Element", 7),
        ("ui.App.App", "call", "useItems", 8),
        ("ui.App.Panel", "base", "React.Component", 12),
        ("ui.App.Panel.render", "call", "format", 14),
    ]


def test_tsx_docs():
    pf = _parse(TSX, "ui/App.tsx", "tsx", "ui.App")
    assert _docs(pf) == {

    }


# ---------------------------------------------------------------- java

JAVA = b'''\
package com.acme.orders;

import java.util.List;
import java.util.Optional;
import static java.util.Objects.requireNonNull;
import com.acme.common.*;

/**
 * Application service for orders.
 */
@Service
public class OrderService extends BaseService<Order> implements Closeable, Auditable {
    private final OrderRepository repository;

    public OrderService(OrderRepository repository) {
        this.repository = requireNonNull(repository);
    }

    /** Finds an order or fails. */
    @Override
    @Transactional(readOnly = true)
    public Order find(String id, List<Item> hints) throws OrderNotFoundException {
        Optional<Order> found = repository.findById(id);
        if (found.isEmpty()) {
            throw new OrderNotFoundException(id);
        }
        audit(id);
        return found.get();
    }

    enum Mode { STRICT, LENIENT }
}

interface Auditable {
    void audit(String id);
}
'''


def test_java_symbols():
    pf = _parse(JAVA, "com/acme/orders/OrderService.java", "java", "com.acme.orders.OrderService")
    assert _symbols(pf) == [
        ("module", "com.acme.orders.OrderService", 1, 36),
        ("class", "com.acme.orders.OrderService.OrderService", 11, 32),
        ("method", "com.acme.orders.OrderService.OrderService.OrderService", 15, 17),
        ("method", "com.acme.orders.OrderService.OrderService.find", 20, 29),
        ("enum", "com.acme.orders.OrderService.OrderService.Mode", 31, 31),
        ("interface", "com.acme.orders.OrderService.Auditable", 34, 36),
        ("method", "com.acme.orders.OrderService.Auditable.audit", 35, 35),
    ]


def test_java_refs():
    pf = _parse(JAVA, "com/acme/orders/OrderService.java", "java", "com.acme.orders.OrderService")
    assert _refs(pf) == [
        ("com.acme.orders.OrderService", "import", "java.util.List", 3),
        ("com.acme.orders.OrderService", "import", "java.util.Optional", 4),
        ("com.acme.orders.OrderService", "import", "java.util.Objects.requireNonNull", 5),
        ("com.acme.orders.OrderService", "import", "com.acme.common", 6),
        ("com.acme.orders.OrderService.OrderService", "decorator", "Service", 11),
        ("com.acme.orders.OrderService.OrderService", "base", "BaseService", 12),
        ("com.acme.orders.OrderService.OrderService", "implements", "Auditable", 12),
        ("com.acme.orders.OrderService.OrderService", "implements", "Closeable", 12),
        ("com.acme.orders.OrderService.OrderService.OrderService", "param_type", "OrderRepository", 15),
        ("com.acme.orders.OrderService.OrderService.OrderService", "call", "requireNonNull", 16),
        ("com.acme.orders.OrderService.OrderService.find", "decorator", "Override", 20),
        ("com.acme.orders.OrderService.OrderService.find", "returns", "Order", 20),
        ("com.acme.orders.OrderService.OrderService.find", "decorator", "Transactional", 21),
        ("com.acme.orders.OrderService.OrderService.find", "param_type", "List", 22),
        ("com.acme.orders.OrderService.OrderService.find", "param_type", "String", 22),
        ("com.acme.orders.OrderService.OrderService.find", "raise", "OrderNotFoundException", 22),
        ("com.acme.orders.OrderService.OrderService.find", "call", "repository.findById", 23),
        ("com.acme.orders.OrderService.OrderService.find", "call", "found.isEmpty", 24),
        ("com.acme.orders.OrderService.OrderService.find", "instantiate", "OrderNotFoundException", 25),
        ("com.acme.orders.OrderService.OrderService.find", "call", "audit", 27),
        ("com.acme.orders.OrderService.OrderService.find", "call", "found.get", 28),
        ("com.acme.orders.OrderService.Auditable.audit", "param_type", "String", 35),
    ]


def test_java_docs():
    pf = _parse(JAVA, "com/acme/orders/OrderService.java", "java", "com.acme.orders.OrderService")
    assert _docs(pf) == {
        "com.acme.orders.OrderService.OrderService": "Application service for orders.",
        "com.acme.orders.OrderService.OrderService.find": "Finds an order or fails.",
    }


# ---------------------------------------------------------------- go

GO = b'''\
// Package store keeps items in memory.
package store

import (
	"errors"
	"fmt"
	"sync"
)

// ErrMissing is returned for unknown keys.
var ErrMissing = errors.New("missing")

// Store is a concurrency-safe map.
type Store struct {
	sync.Mutex
	items map[string]*Item
}

// Getter reads items.
type Getter interface {
	fmt.Stringer
	Get(key string) (*Item, error)
}

// NewStore makes an empty store.
func NewStore(cfg Config) *Store {
	return &Store{items: make(map[string]*Item)}
}

// Get returns the item for key.
func (s *Store) Get(key string) (*Item, error) {
	s.Lock()
	defer s.Unlock()
	item, ok := s.items[key]
	if !ok {
		return nil, fmt.Errorf("get %q: %w", key, ErrMissing)
	}
	return item, nil
}

func (s Store) String() string {
	if s.items == nil {
		panic(ErrMissing)
	}
	return fmt.Sprint(len(s.items))
}
'''


def test_go_symbols():
    pf = _parse(GO, "store/store.go", "go", "store.store")
    assert _symbols(pf) == [
        ("module", "store.store", 1, 46),
        ("struct", "store.store.Store", 14, 17),
        ("interface", "store.store.Getter", 20, 23),
        ("method", "store.store.Getter.Get", 22, 22),
        ("function", "store.store.NewStore", 26, 28),
        ("method", "store.store.Store.Get", 31, 39),
        ("method", "store.store.Store.String", 41, 46),
    ]


def test_go_refs():
    pf = _parse(GO, "store/store.go", "go", "store.store")
    assert _refs(pf) == [
        ("store.store", "import", "errors", 5),
        ("store.store", "import", "fmt", 6),
        ("store.store", "import", "sync", 7),
        ("store.store", "call", "errors.New", 11),
        ("store.store.Store", "base", "sync.Mutex", 15),
        ("store.store.Getter", "base", "fmt.Stringer", 21),
        ("store.store.Getter.Get", "returns", "Item", 22),
        ("store.store.NewStore", "param_type", "Config", 26),
        ("store.store.NewStore", "returns", "Store", 26),
        ("store.store.NewStore", "call", "make", 27),
        ("store.store.NewStore", "instantiate", "Store", 27),
        ("store.store.Store.Get", "returns", "Item", 31),
        ("store.store.Store.Get", "call", "s.Lock", 32),
        ("store.store.Store.Get", "call", "s.Unlock", 33),
        ("store.store.Store.Get", "call", "fmt.Errorf", 36),
        ("store.store.Store.String", "call", "panic", 43),
        ("store.store.Store.String", "raise", "ErrMissing", 43),
        ("store.store.Store.String", "call", "fmt.Sprint", 45),
        ("store.store.Store.String", "call", "len", 45),
    ]


def test_go_docs():
    pf = _parse(GO, "store/store.go", "go", "store.store")
    assert _docs(pf) == {
        "store.store": "Package store keeps items in memory.",
        "store.store.Store": "Store is a concurrency-safe map.",
        "store.store.Getter": "Getter reads items.",
        "store.store.NewStore": "NewStore makes an empty store.",
        "store.store.Store.Get": "Get returns the item for key.",
    }


# ---------------------------------------------------------------- rust

RUST = b'''\
//! Geometry primitives.
use std::collections::HashMap;
use std::fmt::{self, Display};
use crate::error::{GeoError, Result as GeoResult};

/// A point in the plane.
#[derive(Debug, Clone)]
pub struct Point {
    x: f64,
    y: f64,
}

pub enum Shape {
    Circle(Point, f64),
    Square(Point, f64),
}

/// Anything with an area.
pub trait Area: Display {
    fn area(&self) -> f64;
    fn describe(&self) -> String {
        format!("{}", self.area())
    }
}

impl Point {
    /// Makes a point.
    pub fn new(x: f64, y: f64) -> Self {
        Point { x, y }
    }

    pub fn distance(&self, other: &Point) -> GeoResult<f64> {
        if self.x.is_nan() {
            return Err(GeoError::InvalidPoint);
        }
        Ok(helpers::hypot(self.x - other.x, self.y - other.y))
    }
}

impl Area for Shape {
    fn area(&self) -> f64 {
        match self {
            Shape::Circle(_, r) => std::f64::consts::PI * r * r,
            Shape::Square(_, s) => s * s,
        }
    }
}

#[test]
fn unit_square() {
    let s = Shape::Square(Point::new(0.0, 0.0), 1.0);
    assert_eq!(s.area(), 1.0);
}
'''


def test_rust_symbols():
    pf = _parse(RUST, "geo/geometry.rs", "rust", "geo.geometry")
    assert _symbols(pf) == [
        ("module", "geo.geometry", 1, 53),
        ("struct", "geo.geometry.Point", 8, 11),
        ("enum", "geo.geometry.Shape", 13, 16),
        ("trait", "geo.geometry.Area", 19, 24),
        ("method", "geo.geometry.Area.area", 20, 20),
        ("method", "geo.geometry.Area.describe", 21, 23),
        ("method", "geo.geometry.Point.new", 28, 30),
        ("method", "geo.geometry.Point.distance", 32, 37),
        ("method", "geo.geometry.Shape.area", 41, 46),
        ("function", "geo.geometry.unit_square", 50, 53),
    ]


def test_rust_refs():
    pf = _parse(RUST, "geo/geometry.rs", "rust", "geo.geometry")
    assert _refs(pf) == [
        ("geo.geometry", "import", "std::collections::HashMap", 2),
        ("geo.geometry", "import", "std::fmt", 3),
        ("geo.geometry", "import", "std::fmt::Display", 3),
        ("geo.geometry", "import", "crate::error::GeoError", 4),
        ("geo.geometry", "import", "crate::error::Result", 4),
        ("geo.geometry.Point", "implements", "Clone", 7),
        ("geo.geometry.Point", "implements", "Debug", 7),
        ("geo.geometry.Area", "base", "Display", 19),
        ("geo.geometry.Area.describe", "returns", "String", 21),
        ("geo.geometry.Point.new", "instantiate", "Point", 29),
        ("geo.geometry.Point.distance", "param_type", "Point", 32),
        ("geo.geometry.Point.distance", "returns", "GeoResult", 32),
        ("geo.geometry.Point.distance", "call", "self.x.is_nan", 33),
        ("geo.geometry.Point.distance", "raise", "GeoError", 34),
        ("geo.geometry.Point.distance", "call", "helpers::hypot", 36),
        ("geo.geometry.Shape", "implements", "Area", 40),
        ("geo.geometry.unit_square", "decorator", "test", 49),
        ("geo.geometry.unit_square", "call", "Point::new", 51),
        ("geo.geometry.unit_square", "call", "Shape::Square", 51),
    ]


def test_rust_docs():
    pf = _parse(RUST, "geo/geometry.rs", "rust", "geo.geometry")
    assert _docs(pf) == {
        "geo.geometry": "Geometry primitives.",
        "geo.geometry.Point": "A point in the plane.",
        "geo.geometry.Area": "Anything with an area.",
        "geo.geometry.Point.new": "Makes a point.",
    }



# ---------------------------------------------------------------- receivers and edge cases


def test_rust_impl_receiver_edge_cases():
    """Methods of an impl are `Type.m` wherever the type is; `impl Trait for X` is dropped
    when X is not defined in the file; a fn nested in a fn stays a function."""
    src = b"""\
impl Stack {
    fn push(&mut self) {}
}

/// A stack.
#[derive(Default)]
pub struct Stack;

impl Iterator for Stack {
    fn next(&mut self) -> Option<u8> { None }
}

impl Display for Remote {
    fn fmt(&self) {}
}

fn outer() {
    fn helper() {}
    helper();
}
"""
    pf = _parse(src, "s.rs", "rust", "s")
    assert _symbols(pf) == [
        ("module", "s", 1, 20),
        ("method", "s.Stack.push", 2, 2),  # before `struct Stack`: parented to the module
        ("struct", "s.Stack", 7, 7),
        ("method", "s.Stack.next", 10, 10),
        ("method", "s.Remote.fmt", 14, 14),
        ("function", "s.outer", 17, 20),
        ("function", "s.outer.helper", 18, 18),
    ]
    assert [pf.symbols[i].parent for i in (1, 3, 4, 6)] == [0, 2, 0, 5]
    assert _refs(pf) == [
        ("s.Stack", "implements", "Default", 6),
        ("s.Stack", "implements", "Iterator", 9),
        ("s.Stack.next", "returns", "Option", 10),
        ("s.outer", "call", "helper", 19),
    ]
    assert _docs(pf) == {"s.Stack": "A stack."}


def test_go_generic_and_foreign_receivers():
    src = b"""\
package stack

type Stack[T any] struct{ items []T }

func (s *Stack[T]) Push(v T) { s.items = append(s.items, v) }

func (r Remote) Close() error { return nil }
"""
    pf = _parse(src, "stack.go", "go", "stack")
    assert _symbols(pf) == [
        ("module", "stack", 1, 7),
        ("struct", "stack.Stack", 3, 3),
        ("method", "stack.Stack.Push", 5, 5),
        ("method", "stack.Remote.Close", 7, 7),
    ]
    assert [s.parent for s in pf.symbols] == [-1, 0, 1, 0]
    assert _refs(pf) == [("stack.Stack.Push", "call", "append", 5)]


def test_ts_stacked_member_decorators():
    """Decorators are siblings of the member in TS: they and the doc above them belong to it."""
    src = b"""\
export default class Widget {
  /** Renders. */
  @Input()
  @HostListener("click")
  render(): void {}
}
"""
    for language in ("typescript", "tsx"):
        pf = _parse(src, "w.ts", language, "w")
        assert _symbols(pf) == [("module", "w", 1, 6), ("class", "w.Widget", 1, 6), ("method", "w.Widget.render", 5, 5)]
        assert _refs(pf) == [
            ("w.Widget.render", "decorator", "Input", 3),
            ("w.Widget.render", "decorator", "HostListener", 4),
        ]
        assert _docs(pf) == {"w.Widget.render": "Renders."}


def test_java_calls_need_a_dotted_receiver():
    """`a.b()` keeps its receiver; a call on a call's result is left out, as in Python."""
    src = b"""\
class Q {
    void run() {
        this.items.clear();
        builder().add(1);
        Util.check(x);
    }
}
"""
    pf = _parse(src, "Q.java", "java", "Q")
    assert _refs(pf) == [
        ("Q.Q.run", "call", "this.items.clear", 3),
        ("Q.Q.run", "call", "builder", 4),
        ("Q.Q.run", "call", "Util.check", 5),
    ]
