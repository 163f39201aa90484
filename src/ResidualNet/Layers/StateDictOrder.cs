using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace ResidualNet.Layers;

/// <summary>
/// Lists a module's state_dict in PyTorch's order. TorchSharp's <c>Module.state_dict()</c> lists every parameter
/// of the whole tree before any buffer (<c>conv1.weight, bn1.weight, bn1.bias, layer1.0.conv1.weight, ...</c>, then
/// <c>bn1.running_mean, ...</c>); PyTorch lists, module by module depth first, the module's own parameters, then its
/// own persistent buffers, then its children (<c>conv1.weight, bn1.weight, bn1.bias, bn1.running_mean, ...</c>).
/// </summary>
/// <remarks>
/// A network whose key list must equal Python's, in order, can override <c>state_dict</c> and return
/// <see cref="InPyTorchOrder"/>: it reads parameters, buffers and children directly and never calls
/// <c>state_dict</c>, so the override does not recurse.
/// </remarks>
public static class StateDictOrder
{
    /// <summary>Returns the module's parameters and persistent buffers, keyed and ordered as PyTorch's <c>state_dict()</c>.</summary>
    /// <param name="module">The module.</param>
    /// <param name="destination">A dictionary to add to (TorchSharp's <c>state_dict</c> signature); null creates one.</param>
    /// <param name="prefix">A key prefix without the trailing dot (TorchSharp's convention); null or empty for none.</param>
    /// <returns><paramref name="destination"/>, or the new dictionary, with the entries added in PyTorch's order.</returns>
    public static Dictionary<string, Tensor> InPyTorchOrder(
        nn.Module module, Dictionary<string, Tensor>? destination = null, string? prefix = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        destination ??= new Dictionary<string, Tensor>(StringComparer.Ordinal);
        Add(module, string.IsNullOrEmpty(prefix) ? string.Empty : prefix + ".", destination);
        return destination;
    }

    private static void Add(nn.Module module, string prefix, Dictionary<string, Tensor> destination)
    {
        foreach (var (name, parameter) in module.named_parameters(recurse: false))
        {
            destination.TryAdd(prefix + name, parameter);
        }

        foreach (var (name, buffer) in module.named_buffers(recurse: false, include_nonpersistent: false))
        {
            destination.TryAdd(prefix + name, buffer);
        }

        foreach (var (name, child) in module.named_children())
        {
            Add(child, prefix + name + ".", destination);
        }
    }
}
