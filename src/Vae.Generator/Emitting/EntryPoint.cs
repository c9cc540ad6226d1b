using System.Collections.Generic;

namespace Vae.Generator.Emitting
{
    /// <summary>
    /// How one target's method for a program binds what the plan's steps name: its signature and opening lines, the
    /// surface buffers it takes as arguments, the named values (beta, the gradient scale...) and the samples per example.
    /// </summary>
    internal sealed class EntryPoint
    {
        public EntryPoint(string signature, string[] prelude, string[] parameters, Dictionary<string, string> values, string samples = "Samples")
        {
            Signature = signature;
            Prelude = prelude;
            Parameters = parameters;
            Values = values;
            Samples = samples;
        }

        public string Signature { get; }
        public string[] Prelude { get; }

        /// <summary>Surface buffers passed as arguments (camel-cased buffer names); the device passes none, its buffers are ids.</summary>
        public string[] Parameters { get; }

        public Dictionary<string, string> Values { get; }
        public string Samples { get; }
    }
}
