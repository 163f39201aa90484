using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using BenchmarkDotNet.Attributes;
using FluentAssertions;
using ResidualNet.Benchmarks;
using Xunit;

namespace ResidualNet.IntegrationTests.Benchmarks;

/// <summary>
/// The quick mode of the benchmark suites: every [Benchmark] method runs once, on CPU, with the first value of its
/// string parameters (networks, blocks), the smallest value of its numeric ones, and tiny images
/// (RESIDUALNET_BENCHMARK_QUICK=1), through its own [GlobalSetup] and [GlobalCleanup]. Every other network and block
/// name is checked to exist (a full sweep of every value took minutes).
/// </summary>
public class BenchmarkSmokeTests
{
    private const string QuickVariable = "RESIDUALNET_BENCHMARK_QUICK";

    public static TheoryData<string, string> BenchmarkMethods()
    {
        var data = new TheoryData<string, string>();
        foreach (var type in SuiteTypes())
        {
            foreach (var method in type.GetMethods().Where(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null))
            {
                data.Add(type.Name, method.Name);
            }
        }

        return data;
    }

    private static IEnumerable<Type> SuiteTypes() => typeof(Networks).Assembly.GetTypes()
        .Where(t => !t.IsAbstract && t.GetMethods().Any(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null))
        .OrderBy(t => t.Name, StringComparer.Ordinal);

    [Fact]
    public void TheSuitesExist()
    {
        SuiteTypes().Select(t => t.Name).Should().BeEquivalentTo(
            "ActivationStatisticsBenchmarks", "BlockBenchmarks", "CheckpointBenchmarks", "CifarInferenceBenchmarks", "CifarTrainingBenchmarks", "GradientFlowMonitorBenchmarks",
            "NetworkInferenceBenchmarks", "NetworkTrainingBenchmarks", "OnnxRuntimeBenchmarks", "QuantizedInferenceBenchmarks");
        BenchmarkMethods().Count.Should().Be(38);
    }

    [Theory]
    [MemberData(nameof(BenchmarkMethods))]
    public void EveryBenchmark_RunsOnceInQuickMode(string typeName, string methodName)
    {
        string? previous = Environment.GetEnvironmentVariable(QuickVariable);
        Environment.SetEnvironmentVariable(QuickVariable, "1");
        try
        {
            var type = SuiteTypes().Single(t => t.Name == typeName);
            var method = type.GetMethod(methodName)!;
            foreach (var assignment in ParameterCombinations(type))
            {
                RunOnce(type, method, assignment);
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(QuickVariable, previous);
        }
    }

    private static void RunOnce(Type type, MethodInfo method, IReadOnlyList<(PropertyInfo Property, object Value)> assignment)
    {
        var instance = Activator.CreateInstance(type)!;
        foreach (var (property, value) in assignment)
        {
            property.SetValue(instance, value);
        }

        var setups = type.GetMethods().Where(m => m.GetCustomAttribute<GlobalSetupAttribute>() is { } a && Targets(a, method)).ToList();
        var cleanups = type.GetMethods().Where(m => m.GetCustomAttribute<GlobalCleanupAttribute>() is { } a && Targets(a, method)).ToList();
        setups.Should().NotBeEmpty($"{type.Name}.{method.Name} needs a setup");
        setups.ForEach(s => s.Invoke(instance, null));
        try
        {
            var result = method.Invoke(instance, null);
            result.Should().NotBeNull();
            if (result is float loss)
            {
                float.IsFinite(loss).Should().BeTrue($"{type.Name}.{method.Name} ({Describe(assignment)}) must give a finite loss");
            }
        }
        finally
        {
            cleanups.ForEach(c => c.Invoke(instance, null));
        }
    }

    private static bool Targets(TargetedAttribute attribute, MethodInfo method) =>
        attribute.Targets is null || attribute.Targets.Length == 0 || attribute.Targets.Contains(method.Name);

    private static string Describe(IEnumerable<(PropertyInfo Property, object Value)> assignment) =>
        string.Join(", ", assignment.Select(a => $"{a.Property.Name}={a.Value}"));

    [Fact]
    public void EveryNetworkAndBlockName_Exists()
    {
        var names = Networks.Names.Concat(Networks.CifarNames).Concat(Networks.CheckpointNames).Concat(Networks.MonitorNames).Concat(Networks.OnnxNames).ToList();
        names.Should().Contain(new[] { "resnet18", "resnet50", "resnet20", "resnet56", "resnet110", "plain_resnet20", "plain_resnet56", "plain_resnet110", "resnet152" });
        foreach (var name in names)
        {
            ResidualNet.Models.ModelRegistry.Default.Contains(name).Should().BeTrue(name);
            Networks.InputSize(name).Should().BeGreaterThan(0);
        }

        Networks.QuantizedNames.Should().Equal("resnet50", "wide-resnet-6");
        ResidualNet.Models.ModelRegistry.Default.Contains("resnet50").Should().BeTrue();
        ResidualNet.Samples.SampleNetworks.Classify.Select(n => n.Name).Should().Contain("wide-resnet-6");

        foreach (var block in Networks.BlockNames)
        {
            Networks.BlockInput(block).Channels.Should().BeGreaterThan(0);
        }
    }

    /// <summary>The first string value (network, block), the smallest numeric value, and the CPU device.</summary>
    private static IEnumerable<IReadOnlyList<(PropertyInfo, object)>> ParameterCombinations(Type type)
    {
        var choices = new List<(PropertyInfo Property, object[] Values)>();
        foreach (var property in type.GetProperties())
        {
            object[]? values = null;
            if (property.GetCustomAttribute<ParamsAttribute>() is { } p)
            {
                values = p.Values.Select(v => v!).ToArray();
            }
            else if (property.GetCustomAttribute<ParamsSourceAttribute>() is { } source)
            {
                var owner = source.Type ?? type;
                var member = (object?)owner.GetProperty(source.Name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.FlattenHierarchy)?.GetValue(null)
                    ?? owner.GetMethod(source.Name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.FlattenHierarchy)?.Invoke(null, null);
                values = ((IEnumerable)member!).Cast<object>().ToArray();
            }

            if (values is null)
            {
                continue;
            }

            values.Should().NotBeEmpty();
            if (property.Name == "DeviceName")
            {
                values = new object[] { "cpu" };
            }
            else if (values[0] is string)
            {
                values = new[] { values[0] };
            }
            else if (values[0] is IComparable && values[0] is not string)
            {
                values = new[] { values.Min()! };
            }

            choices.Add((property, values));
        }

        IEnumerable<IReadOnlyList<(PropertyInfo, object)>> combinations = new[] { Array.Empty<(PropertyInfo, object)>() };
        foreach (var (property, values) in choices)
        {
            combinations = combinations.SelectMany(c => values.Select(v => (IReadOnlyList<(PropertyInfo, object)>)c.Append((property, v)).ToList())).ToList();
        }

        return combinations;
    }
}
