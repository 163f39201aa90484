using System;
using System.Linq;
using System.Reflection;
using FluentAssertions;
using Xunit;

namespace ResidualNet.UnitTests.Conventions;

/// <summary>
/// One way to validate options (docs/architecture.md, "Options"): every public options record of the libraries has a
/// public <c>Validate()</c> that throws an <see cref="ArgumentException"/> naming the property; the methods that take
/// the record call it first.
/// </summary>
public class OptionsValidationTests
{
    /// <summary>Records none of whose values can be out of range (each part is checked where it is made).</summary>
    private static readonly string[] NothingToValidate = { "ResidualNet.Data.DataLoadOptions" };

    [Fact]
    public void EveryPublicOptionsRecordHasAPublicValidate()
    {
        var assemblies = new[]
        {
            typeof(ResidualNet.Models.ResNet).Assembly,
            typeof(ResidualNet.Onnx.OnnxExporter).Assembly,
            typeof(ResidualNet.OnnxRuntime.OnnxQuantizer).Assembly,
            typeof(ResidualNet.Plotting.GradientFlowPlot).Assembly,
            typeof(ResidualNet.Data.ImageDataSet).Assembly,
        };
        var records = assemblies.SelectMany(a => a.GetExportedTypes())
            .Where(t => t.Name.EndsWith("Options", StringComparison.Ordinal) || t.Name.EndsWith("Thresholds", StringComparison.Ordinal))
            .Where(t => t.GetMethod("<Clone>$") is not null)   // a record
            .ToList();

        records.Should().HaveCountGreaterThan(10);
        var missing = records
            .Where(t => !NothingToValidate.Contains(t.FullName))
            .Where(t => t.GetMethod("Validate", BindingFlags.Public | BindingFlags.Instance, Type.EmptyTypes) is not { ReturnType: var r } || r != typeof(void))
            .Select(t => t.FullName)
            .ToList();
        missing.Should().BeEmpty("every options record validates itself the same way");
    }
}
