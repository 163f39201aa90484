using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using ResidualNet.Blocks;
using ResidualNet.Runtime;

namespace ResidualNet.Models;

/// <summary>
/// Networks by name. <see cref="Default"/> holds every preset of the library and is read-only; users who add names
/// build their own registry (<see cref="CreateWithPresets"/> or an empty <c>new ModelRegistry()</c>), where a name
/// can be registered once. Names are case-insensitive.
/// </summary>
/// <remarks>
/// <para>Built-in names: <c>resnet18</c>, <c>resnet34</c>, <c>resnet50</c>, <c>resnet101</c>, <c>resnet152</c>,
/// <c>resnext50_32x4d</c>, <c>resnext101_32x8d</c>, <c>resnext101_64x4d</c>, <c>wide_resnet50_2</c>,
/// <c>wide_resnet101_2</c> (torchvision); <c>resnet20</c>, <c>resnet32</c>, <c>resnet44</c>, <c>resnet56</c>,
/// <c>resnet110</c>, <c>resnet1202</c> (CIFAR, option A); <c>preact_resnet18</c> ... <c>preact_resnet152</c>
/// (ImageNet layout); <c>preact_resnet110</c>, <c>preact_resnet164</c>, <c>preact_resnet1001</c> (CIFAR).</para>
/// <para><b>Plain twins</b>: every built-in name with the prefix <c>plain_</c> (<c>plain_resnet18</c>,
/// <c>plain_resnet20</c>, <c>plain_preact_resnet110</c>, <c>plain_resnext50_32x4d</c>...) is the same network
/// built with <see cref="ResNetOptions.AsPlain"/>: same layers and initialisation, no shortcuts.</para>
/// <para>Variants of a registered network are <c>with</c> expressions on its options:
/// <c>new ResNet(ModelRegistry.Default.GetOptions("resnet20") with { InputChannels = 1 })</c>.</para>
/// <para>The instance is thread-safe.</para>
/// </remarks>
public sealed class ModelRegistry
{
    /// <summary>Prefix of the plain twins' names.</summary>
    public const string PlainPrefix = "plain_";

    private static readonly Regex NamePattern = new("^[A-Za-z0-9_.-]+$", RegexOptions.CultureInvariant);
    private readonly Dictionary<string, ResNetOptions> _entries = new(StringComparer.OrdinalIgnoreCase);
    private readonly object _gate = new();
    private bool _isReadOnly;

    /// <summary>An empty registry.</summary>
    public ModelRegistry()
    {
    }

    /// <summary>
    /// The shared, read-only registry of every built-in preset and its plain twin. <see cref="Register"/> on it
    /// throws: add names to a registry of your own (<see cref="CreateWithPresets"/>).
    /// </summary>
    public static ModelRegistry Default { get; } = CreateReadOnlyDefault();

    /// <summary>Whether <see cref="Register"/> is refused (true only for <see cref="Default"/>).</summary>
    public bool IsReadOnly => _isReadOnly;

    /// <summary>Number of registered names.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>A new registry holding the built-in presets and their plain twins.</summary>
    public static ModelRegistry CreateWithPresets()
    {
        var registry = new ModelRegistry();
        var residual = new List<(string Name, ResNetOptions Options)>();
        foreach (int depth in new[] { 18, 34, 50, 101, 152 })
        {
            residual.Add(($"resnet{depth}", ResNetPresets.ResNet(depth)));
        }

        residual.Add(("resnext50_32x4d", ResNetPresets.ResNeXt(50, 32, 4)));
        residual.Add(("resnext101_32x8d", ResNetPresets.ResNeXt(101, 32, 8)));
        residual.Add(("resnext101_64x4d", ResNetPresets.ResNeXt(101, 64, 4)));
        residual.Add(("wide_resnet50_2", ResNetPresets.WideResNet(50, 2)));
        residual.Add(("wide_resnet101_2", ResNetPresets.WideResNet(101, 2)));
        foreach (int depth in new[] { 20, 32, 44, 56, 110, 1202 })
        {
            residual.Add(($"resnet{depth}", ResNetPresets.CifarResNet(depth, ShortcutKind.ZeroPad)));
        }

        foreach (int depth in new[] { 18, 34, 50, 101, 152 })
        {
            residual.Add(($"preact_resnet{depth}", ResNetPresets.PreActResNet(depth)));
        }

        residual.Add(("preact_resnet110", ResNetPresets.CifarPreActResNet(110, bottleneck: false)));
        residual.Add(("preact_resnet164", ResNetPresets.CifarPreActResNet(164, bottleneck: true)));
        residual.Add(("preact_resnet1001", ResNetPresets.CifarPreActResNet(1001, bottleneck: true)));

        foreach (var (name, options) in residual)
        {
            registry.Register(name, options);
        }

        foreach (var (name, options) in residual)
        {
            registry.Register(PlainPrefix + name, options.AsPlain());
        }

        return registry;
    }

    /// <summary>Registers a network under a new name.</summary>
    /// <param name="name">Letters, digits, <c>_</c>, <c>.</c>, <c>-</c>; not yet registered (case-insensitive).</param>
    /// <param name="options">The network; validated now.</param>
    /// <exception cref="ArgumentException">The name is malformed or already registered, or the options are invalid.</exception>
    /// <exception cref="InvalidOperationException">The registry is read-only (<see cref="Default"/>).</exception>
    public void Register(string name, ResNetOptions options)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(options);
        if (_isReadOnly)
        {
            throw new InvalidOperationException(
                $"ModelRegistry.Default is read-only (it holds the library's presets), so '{name}' cannot be registered in it. " +
                "Build your own registry and register there: var registry = ModelRegistry.CreateWithPresets(); registry.Register(name, options);");
        }

        if (!NamePattern.IsMatch(name))
        {
            throw new ArgumentException($"A model name may hold only letters, digits, '_', '.' and '-'; got '{name}'.", nameof(name));
        }

        options.Validate();
        lock (_gate)
        {
            if (!_entries.TryAdd(name, options))
            {
                throw new ArgumentException($"A model named '{name}' is already registered.", nameof(name));
            }
        }
    }

    /// <summary>Whether <paramref name="name"/> is registered (case-insensitive).</summary>
    public bool Contains(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_gate)
        {
            return _entries.ContainsKey(name);
        }
    }

    /// <summary>Registered names matching a glob pattern (<c>*</c> any run of characters, <c>?</c> one character,
    /// case-insensitive), sorted ordinally.</summary>
    /// <param name="pattern">For example <c>"resnet*"</c> or <c>"plain_*"</c>. Default <c>"*"</c> (all).</param>
    public IReadOnlyList<string> List(string pattern = "*")
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var regex = new Regex(
            "^" + Regex.Escape(pattern).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal) + "$",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
        lock (_gate)
        {
            return _entries.Keys.Where(k => regex.IsMatch(k)).Order(StringComparer.Ordinal).ToArray();
        }
    }

    /// <summary>The options registered under <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Unknown name; the message suggests close names.</exception>
    public ResNetOptions GetOptions(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_gate)
        {
            if (_entries.TryGetValue(name, out var options))
            {
                return options;
            }

            var suggestions = _entries.Keys
                .Select(k => (Name: k, Distance: EditDistance(name.ToLowerInvariant(), k.ToLowerInvariant())))
                .Where(x => x.Distance <= Math.Max(2, name.Length / 3) || x.Name.Contains(name, StringComparison.OrdinalIgnoreCase))
                .OrderBy(x => x.Distance).ThenBy(x => x.Name, StringComparer.Ordinal)
                .Take(5)
                .Select(x => x.Name)
                .ToArray();
            string hint = suggestions.Length > 0 ? $" Did you mean: {string.Join(", ", suggestions)}?" : string.Empty;
            throw new ArgumentException(
                $"Unknown model name '{name}'.{hint} ModelRegistry.List() gives all {_entries.Count} names.", nameof(name));
        }
    }

    /// <summary>Builds the network registered under <paramref name="name"/>. For a variant, build from
    /// <see cref="GetOptions"/> with a <c>with</c> expression instead.</summary>
    /// <param name="name">A registered name.</param>
    /// <returns>The network, initialised from the global random generator.</returns>
    /// <exception cref="ArgumentException">Unknown name (with suggestions).</exception>
    public ResNet Create(string name)
    {
        OneDnnGuard.EnsureApplied();
        return new ResNet(GetOptions(name));
    }

    private static ModelRegistry CreateReadOnlyDefault()
    {
        var registry = CreateWithPresets();
        registry._isReadOnly = true;
        return registry;
    }

    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
