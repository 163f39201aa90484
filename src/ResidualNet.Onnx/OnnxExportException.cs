using System;

namespace ResidualNet.Onnx;

/// <summary>Thrown when a network holds a module the exporter cannot write as ONNX.</summary>
public sealed class OnnxExportException : NotSupportedException
{
    /// <summary>Creates the exception for the module at <paramref name="modulePath"/>.</summary>
    public OnnxExportException(string modulePath, string moduleType, string reason)
        : base($"Cannot export module '{modulePath}' of type {moduleType} to ONNX: {reason}")
    {
        ModulePath = modulePath;
        ModuleType = moduleType;
    }

    /// <summary>Creates the exception with a message only.</summary>
    public OnnxExportException(string message)
        : base(message)
    {
        ModulePath = string.Empty;
        ModuleType = string.Empty;
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public OnnxExportException(string message, Exception innerException)
        : base(message, innerException)
    {
        ModulePath = string.Empty;
        ModuleType = string.Empty;
    }

    /// <summary>Creates the exception with no message.</summary>
    public OnnxExportException()
        : this("Cannot export the module to ONNX.")
    {
    }

    /// <summary>The module's path in the network, dot-separated as in state_dict keys (<c>layer2.1</c>); empty for the root.</summary>
    public string ModulePath { get; }

    /// <summary>The module's .NET type name.</summary>
    public string ModuleType { get; }
}
