; graphmer tags query for Rust.
; Capture convention (shared by every language):
;   @definition.<kind>  the definition node (kind: class interface struct trait enum function method)
;   @reference.<kind>   the referencing node (kind: call import base implements decorator raise
;                       instantiate param_type returns)
;   @name               the name node of the definition, or the target of the reference
;   @receiver           (definitions) the type a method belongs to when it is not nested in it:
;                       `impl Foo { fn m() }` defines `Foo.m`; (references) the type that is
;                       the source: `impl Trait for Foo` is `Foo implements Trait`
;   @scope              (references) prefixed to @name with `::` where no single node spells
;                       the target: `use a::{b, c}` imports `a::b` and `a::c`
; Targets keep Rust's `::` separators (`std::io::Read`, `Vec::new`).

; --- definitions ------------------------------------------------------------------------
(struct_item name: (type_identifier) @name) @definition.struct
(union_item name: (type_identifier) @name) @definition.struct
(enum_item name: (type_identifier) @name) @definition.enum
(trait_item name: (type_identifier) @name) @definition.trait

; Free functions: at the top level, in a `mod`, or nested in a function body. (Functions
; in an impl are matched below with their receiver; the parent node types keep the two
; patterns apart, since a node captured twice is kept once.)
(source_file (function_item name: (identifier) @name) @definition.function)
(mod_item body: (declaration_list (function_item name: (identifier) @name) @definition.function))
(block (function_item name: (identifier) @name) @definition.function)

; Trait methods, required and provided (nested in the trait, so they become methods).
(trait_item
  body: (declaration_list
    [
      (function_signature_item name: (identifier) @name)
      (function_item name: (identifier) @name)
    ] @definition.function))

; Methods in `impl Foo`, `impl<T> Foo<T>`, `impl Trait for Foo`.
(impl_item
  type: [
    (type_identifier) @receiver
    (generic_type type: (type_identifier) @receiver)
    (scoped_type_identifier name: (type_identifier) @receiver)
    (generic_type type: (scoped_type_identifier name: (type_identifier) @receiver))
  ]
  body: (declaration_list (function_item name: (identifier) @name) @definition.function))

; --- references -------------------------------------------------------------------------
; `f(x)`, `a::b(x)`, `Foo::new()`, `self.items.len()`; macros (`println!`) are not calls,
; nor are the prelude's variant constructors `Ok(..)`, `Err(..)`, `Some(..)`.
(call_expression
  function: [(identifier) (scoped_identifier) (field_expression)] @name
  (#not-match? @name "^(Ok|Err|Some)$")) @reference.call

; Struct literals: `Point { x, y }`, `geo::Point { .. }`.
(struct_expression name: [(type_identifier) (scoped_type_identifier)] @name) @reference.instantiate
(struct_expression name: (generic_type_with_turbofish type: [(type_identifier) (scoped_identifier)] @name)) @reference.instantiate

; `impl Trait for Foo`: Foo implements Trait.
(impl_item
  trait: [
    (type_identifier) @name
    (scoped_type_identifier) @name
    (generic_type type: [(type_identifier) (scoped_type_identifier)] @name)
  ]
  type: [
    (type_identifier) @receiver
    (generic_type type: (type_identifier) @receiver)
    (scoped_type_identifier name: (type_identifier) @receiver)
    (generic_type type: (scoped_type_identifier name: (type_identifier) @receiver))
  ]) @reference.implements

; Supertraits: `trait Area: Shape + Debug`.
(trait_item
  bounds: (trait_bounds [
    (type_identifier) @name
    (scoped_type_identifier) @name
    (generic_type type: [(type_identifier) (scoped_type_identifier)] @name)
  ])) @reference.base

; Attributes on an item: `#[test]`, `#[tokio::main]`, `#[serde(rename = "x")]`. A derive
; is not a decorator: `#[derive(Debug, Clone)]` reads as implementing Debug and Clone.
(attribute_item
  (attribute [(identifier) (scoped_identifier)] @name)
  (#not-eq? @name "derive")) @reference.decorator
(attribute_item
  (attribute
    (identifier) @_derive
    arguments: (token_tree (identifier) @name)
    (#eq? @_derive "derive"))) @reference.implements

; Rust has no exceptions; returning an error value is its raise: `Err(MyError::NotFound)`,
; `Err(MyError::new(..))`, `Err(MyError { .. })` raise MyError.
(call_expression
  function: (identifier) @_err
  arguments: (arguments . [
    (scoped_identifier path: (_) @name)
    (call_expression function: (scoped_identifier path: (_) @name))
    (struct_expression name: [(type_identifier) (scoped_type_identifier)] @name)
  ])
  (#eq? @_err "Err")) @reference.raise

; Parameter and return types naming a type (`Foo`, `&Foo`, `&mut a::Foo`, `Vec<Foo>` -> Vec);
; primitives are primitive_type nodes and are left out, and so are `Self` and one-letter
; names (type parameters).
(parameter
  type: [
    (type_identifier) @name
    (scoped_type_identifier) @name
    (generic_type type: [(type_identifier) (scoped_type_identifier)] @name)
    (reference_type type: [(type_identifier) (scoped_type_identifier)] @name)
    (reference_type type: (generic_type type: [(type_identifier) (scoped_type_identifier)] @name))
  ]
  (#not-match? @name "^([A-Z]|Self)$")) @reference.param_type
(function_item
  return_type: [
    (type_identifier) @name
    (scoped_type_identifier) @name
    (generic_type type: [(type_identifier) (scoped_type_identifier)] @name)
    (reference_type type: [(type_identifier) (scoped_type_identifier)] @name)
    (reference_type type: (generic_type type: [(type_identifier) (scoped_type_identifier)] @name))
  ]
  (#not-match? @name "^([A-Z]|Self)$")) @reference.returns

(function_signature_item
  return_type: [
    (type_identifier) @name
    (scoped_type_identifier) @name
    (generic_type type: [(type_identifier) (scoped_type_identifier)] @name)
    (reference_type type: [(type_identifier) (scoped_type_identifier)] @name)
    (reference_type type: (generic_type type: [(type_identifier) (scoped_type_identifier)] @name))
  ]
  (#not-match? @name "^([A-Z]|Self)$")) @reference.returns

; Imports: `use a::b::C;`, `use a::b::C as D;`, `use a::{b, c::D};`, `use a::*;` (-> `a`).
(use_declaration argument: [(identifier) (scoped_identifier)] @name) @reference.import
(use_declaration argument: (use_as_clause path: (_) @name)) @reference.import
(use_declaration argument: (use_wildcard . (_) @name)) @reference.import
(use_declaration
  argument: (scoped_use_list
    path: (_) @scope
    list: (use_list [
      (identifier) @name
      (scoped_identifier) @name
      (use_as_clause path: (_) @name)
    ]))) @reference.import
(use_declaration
  argument: (scoped_use_list
    path: (_) @name
    list: (use_list (self)))) @reference.import
