using System;
using System.Text;

namespace Vae.Generator.Emitting
{
    /// <summary>Writes source text line by line with an indentation level; always "\n" line endings, so output is byte-stable.</summary>
    internal sealed class SourceWriter
    {
        private readonly StringBuilder _text = new StringBuilder();
        private readonly string _unit;
        private int _level;

        public SourceWriter(string indentUnit = "    ") => _unit = indentUnit;

        public SourceWriter Line(string line = "")
        {
            if (line.Length > 0)
                for (int i = 0; i < _level; i++) _text.Append(_unit);
            _text.Append(line).Append('\n');
            return this;
        }

        /// <summary>Writes several lines (split on '\n') at the current indentation.</summary>
        public SourceWriter Lines(string lines)
        {
            foreach (var line in lines.Replace("\r\n", "\n").Split('\n')) Line(line);
            return this;
        }

        /// <summary>Writes an opening line, then indents until the returned scope is disposed and writes the closing line.</summary>
        public IDisposable Block(string opening, string open = "{", string close = "}")
        {
            if (opening.Length > 0) Line(opening);
            Line(open);
            _level++;
            return new Scope(this, close);
        }

        public void Indent() => _level++;

        public void Outdent() => _level--;

        public override string ToString() => _text.ToString();

        private sealed class Scope : IDisposable
        {
            private readonly SourceWriter _writer;
            private readonly string _close;
            private bool _done;

            public Scope(SourceWriter writer, string close)
            {
                _writer = writer;
                _close = close;
            }

            public void Dispose()
            {
                if (_done) return;
                _done = true;
                _writer._level--;
                _writer.Line(_close);
            }
        }
    }
}
