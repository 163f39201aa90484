using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Reflection.Emit;

namespace ResidualNet.UnitTests.Layering;

/// <summary>One use of a type by another: who uses it, what it is, and where the use sits.</summary>
/// <param name="From">The type whose code or signature holds the use.</param>
/// <param name="To">The type used.</param>
/// <param name="Where">Where the use sits, for example <c>field _conv1</c> or <c>IL of forward(Tensor)</c>.</param>
internal sealed record TypeReference(Type From, Type To, string Where)
{
    public override string ToString() => $"{From.FullName} -> {To.FullName} ({Where})";
}

/// <summary>
/// Every type an assembly's types use: base types and interfaces, custom attributes, the signatures of fields,
/// properties, events, methods and constructors, local variables and catch clauses, and every type, field or
/// method token in the method bodies' IL (resolved through <see cref="Module.ResolveMember(int, Type[], Type[])"/>),
/// which catches uses that no signature shows (a call inside a method body). Generic arguments, array elements
/// and by-ref targets count as uses too.
/// </summary>
internal static class TypeReferences
{
    private const BindingFlags Declared =
        BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>Lists the uses made by every type of <paramref name="assembly"/> (nested and compiler-generated ones included).</summary>
    /// <param name="assembly">The assembly to read.</param>
    /// <param name="unresolved">Receives a description of each IL token that could not be resolved.</param>
    public static IReadOnlyList<TypeReference> Of(Assembly assembly, ICollection<string>? unresolved = null)
    {
        var result = new List<TypeReference>();
        foreach (var type in assembly.GetTypes())
        {
            Collect(type, result, unresolved);
        }

        return result;
    }

    /// <summary>Lists the uses made by one type (not by its nested types).</summary>
    public static IReadOnlyList<TypeReference> Of(Type type, ICollection<string>? unresolved = null)
    {
        var result = new List<TypeReference>();
        Collect(type, result, unresolved);
        return result;
    }

    private static void Collect(Type type, List<TypeReference> result, ICollection<string>? unresolved)
    {
        void Add(Type? used, string where)
        {
            foreach (var t in Expand(used))
            {
                result.Add(new TypeReference(type, t, where));
            }
        }

        Add(type.BaseType, "base type");
        foreach (var i in type.GetInterfaces())
        {
            Add(i, "interface");
        }

        AddAttributes(type.CustomAttributes, "attribute of the type", Add);
        foreach (var field in type.GetFields(Declared))
        {
            Add(field.FieldType, $"field {field.Name}");
            AddAttributes(field.CustomAttributes, $"attribute of field {field.Name}", Add);
        }

        foreach (var property in type.GetProperties(Declared))
        {
            Add(property.PropertyType, $"property {property.Name}");
        }

        foreach (var e in type.GetEvents(Declared))
        {
            Add(e.EventHandlerType, $"event {e.Name}");
        }

        var methods = type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared));
        foreach (var method in methods)
        {
            string name = $"{method.Name}({string.Join(", ", method.GetParameters().Select(p => p.ParameterType.Name))})";
            if (method is MethodInfo info)
            {
                Add(info.ReturnType, $"return type of {name}");
            }

            foreach (var parameter in method.GetParameters())
            {
                Add(parameter.ParameterType, $"parameter {parameter.Name} of {name}");
            }

            AddAttributes(method.CustomAttributes, $"attribute of {name}", Add);
            var body = method.GetMethodBody();
            if (body is null)
            {
                continue;
            }

            foreach (var local in body.LocalVariables)
            {
                Add(local.LocalType, $"local variable of {name}");
            }

            foreach (var clause in body.ExceptionHandlingClauses)
            {
                if (clause.Flags == ExceptionHandlingClauseOptions.Clause)
                {
                    Add(clause.CatchType, $"catch clause of {name}");
                }
            }

            foreach (var member in MembersInIL(method, body, unresolved))
            {
                switch (member)
                {
                    case Type t:
                        Add(t, $"IL of {name}");
                        break;
                    case FieldInfo f:
                        Add(f.DeclaringType, $"IL of {name}: field {f.Name}");
                        Add(f.FieldType, $"IL of {name}: field {f.Name}");
                        break;
                    case MethodBase m:
                        Add(m.DeclaringType, $"IL of {name}: {m.Name}");
                        if (m is MethodInfo mi)
                        {
                            Add(mi.ReturnType, $"IL of {name}: {m.Name}");
                            if (mi.IsGenericMethod)
                            {
                                foreach (var argument in mi.GetGenericArguments())
                                {
                                    Add(argument, $"IL of {name}: {m.Name}");
                                }
                            }
                        }

                        foreach (var p in m.GetParameters())
                        {
                            Add(p.ParameterType, $"IL of {name}: {m.Name}");
                        }

                        break;
                }
            }
        }
    }

    private static void AddAttributes(IEnumerable<CustomAttributeData> attributes, string where, Action<Type?, string> add)
    {
        foreach (var attribute in attributes)
        {
            add(attribute.AttributeType, where);
            foreach (var argument in attribute.ConstructorArguments.Concat(attribute.NamedArguments.Select(a => a.TypedValue)))
            {
                if (argument.Value is Type t)
                {
                    add(t, where);
                }
            }
        }
    }

    /// <summary>The type itself, and the types inside it: generic arguments, array elements, by-ref and pointer targets.</summary>
    private static IEnumerable<Type> Expand(Type? type)
    {
        if (type is null || type.IsGenericParameter)
        {
            yield break;
        }

        if (type.HasElementType)
        {
            foreach (var t in Expand(type.GetElementType()))
            {
                yield return t;
            }

            yield break;
        }

        yield return type.IsGenericType && !type.IsGenericTypeDefinition ? type.GetGenericTypeDefinition() : type;
        if (type.IsGenericType)
        {
            foreach (var argument in type.GetGenericArguments())
            {
                foreach (var t in Expand(argument))
                {
                    yield return t;
                }
            }
        }
    }

    /// <summary>The types, fields and methods named by the type, field, method and token operands of the IL.</summary>
    private static IEnumerable<MemberInfo> MembersInIL(MethodBase method, MethodBody body, ICollection<string>? unresolved)
    {
        var il = body.GetILAsByteArray();
        if (il is null)
        {
            yield break;
        }

        var typeArguments = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        int position = 0;
        while (position < il.Length)
        {
            short value = il[position++];
            if (value == 0xFE)
            {
                value = unchecked((short)(0xFE00 | il[position++]));
            }

            var opCode = OpCodesByValue[value];
            switch (opCode.OperandType)
            {
                case OperandType.InlineField:
                case OperandType.InlineMethod:
                case OperandType.InlineTok:
                case OperandType.InlineType:
                    int token = BitConverter.ToInt32(il, position);
                    position += 4;
                    var member = Resolve(method.Module, token, typeArguments, methodArguments);
                    if (member is not null)
                    {
                        yield return member;
                    }
                    else
                    {
                        unresolved?.Add($"{method.DeclaringType?.FullName}.{method.Name}: token 0x{token:X8} ({opCode.Name})");
                    }

                    break;
                case OperandType.InlineSwitch:
                    int count = BitConverter.ToInt32(il, position);
                    position += 4 + (4 * count);
                    break;
                default:
                    position += OperandSize(opCode.OperandType);
                    break;
            }
        }
    }

    private static MemberInfo? Resolve(Module module, int token, Type[]? typeArguments, Type[]? methodArguments)
    {
        try
        {
            return module.ResolveMember(token, typeArguments, methodArguments);
        }
        catch (ArgumentException)
        {
            try
            {
                return module.ResolveMember(token);
            }
            catch (ArgumentException)
            {
                return null;
            }
        }
    }

    private static int OperandSize(OperandType type) => type switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        _ => 4,
    };
}
