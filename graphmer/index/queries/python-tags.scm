; graphmer tags query for Python.
; Capture convention (shared by every language):
;   @definition.<kind>  the definition node (kind: class interface struct trait enum function method)
;   @reference.<kind>   the referencing node (kind: call import base implements decorator raise
;                       instantiate param_type returns)
;   @name               the name node of the definition, or the target of the reference
;   @receiver           (definitions) the type a method belongs to when it is not nested in it

(class_definition name: (identifier) @name) @definition.class
(function_definition name: (identifier) @name) @definition.function

(call function: [(identifier) (attribute)] @name) @reference.call

(class_definition
  superclasses: (argument_list [(identifier) (attribute)] @name)) @reference.base
(class_definition
  superclasses: (argument_list (subscript value: [(identifier) (attribute)] @name))) @reference.base

(decorator [(identifier) (attribute)] @name) @reference.decorator
(decorator (call function: [(identifier) (attribute)] @name)) @reference.decorator

(raise_statement [(identifier) (attribute)] @name) @reference.raise
(raise_statement (call function: [(identifier) (attribute)] @name)) @reference.raise

(function_definition
  parameters: (parameters [
    (typed_parameter type: (type) @name)
    (typed_default_parameter type: (type) @name)
  ])) @reference.param_type
(function_definition return_type: (type) @name) @reference.returns

(import_statement) @reference.import
(import_from_statement) @reference.import
