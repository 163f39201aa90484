using System;

namespace ResidualNet.Data;

/// <summary>A training set and a test set, owned together.</summary>
public sealed class DataSplits : IDisposable
{
    /// <summary>Pairs two data sets; the new object owns both.</summary>
    /// <param name="train">The training set.</param>
    /// <param name="test">The test set.</param>
    public DataSplits(ImageDataSet train, ImageDataSet test)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        Train = train;
        Test = test;
    }

    /// <summary>The training set.</summary>
    public ImageDataSet Train { get; }

    /// <summary>The test set.</summary>
    public ImageDataSet Test { get; }

    /// <summary>Whether either set is generated rather than read from files.</summary>
    public bool IsSynthetic => Train.IsSynthetic || Test.IsSynthetic;

    /// <summary>Disposes both data sets; idempotent.</summary>
    public void Dispose()
    {
        Train.Dispose();
        Test.Dispose();
    }
}
